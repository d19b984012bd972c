// Open MPI's C API through koffi (no maintained Node binding exists). Open MPI's handles are addresses of exported
// globals (MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT is &ompi_mpi_float, ...), which koffi's lib.symbol()
// returns as BigInt pointers; the library is loaded RTLD_GLOBAL because Open MPI dlopens its own components,
// which need libmpi's symbols. Only Open MPI's ABI is handled (MPICH's handles are integers).
import koffi, { type LibraryHandle } from 'koffi';

/** The library names tried in order; SECO_LIBMPI (a path) goes first when set. */
export const LIBMPI_NAMES = ['libmpi.so.40', 'libmpi.so', 'libmpi.40.dylib', 'libmpi.dylib'];

export const MPI_THREAD_SERIALIZED = 2;
/** Open MPI's MPI_IN_PLACE is ((void *) 1). */
export const MPI_IN_PLACE = 1n;

export type Handle = bigint;
type Fn = ReturnType<LibraryHandle['func']>;

export interface LibMpi {
  file: string;
  commWorld: Handle;
  types: { float: Handle; double: Handle; int: Handle; byte: Handle };
  ops: { sum: Handle; max: Handle; min: Handle };
  initialized: Fn;
  initThread: Fn;
  finalized: Fn;
  finalize: Fn;
  commRank: Fn;
  commSize: Fn;
  allreduce: Fn;
  allgather: Fn;
  bcast: Fn;
  barrier: Fn;
  abort: Fn;
  errorString: Fn;
}

let loaded: LibMpi | null = null;

function open(): { lib: LibraryHandle; file: string } {
  const names = [process.env.SECO_LIBMPI, ...LIBMPI_NAMES].filter((n): n is string => !!n);
  const errors: string[] = [];
  for (const file of names) {
    try {
      return { lib: koffi.load(file, { global: true }), file };
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `cannot load Open MPI's library (${errors.join('; ')}). Install Open MPI 4.x (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3; ` +
      '`npm run setup:mpi` does it as root) or set SECO_LIBMPI to the path of libmpi.so.40',
  );
}

/** Loads libmpi once and declares the calls the CLI uses. */
export function libmpi(): LibMpi {
  if (loaded) return loaded;
  const { lib, file } = open();
  const sym = (name: string): Handle => {
    try {
      return lib.symbol(name) as Handle;
    } catch {
      throw new Error(`${file} has no symbol ${name}: only Open MPI (4.x) is supported, not MPICH or Intel MPI`);
    }
  };
  loaded = {
    file,
    commWorld: sym('ompi_mpi_comm_world'),
    types: { float: sym('ompi_mpi_float'), double: sym('ompi_mpi_double'), int: sym('ompi_mpi_int'), byte: sym('ompi_mpi_byte') },
    ops: { sum: sym('ompi_mpi_op_sum'), max: sym('ompi_mpi_op_max'), min: sym('ompi_mpi_op_min') },
    initialized: lib.func('int MPI_Initialized(_Out_ int *flag)'),
    initThread: lib.func('int MPI_Init_thread(void *argc, void *argv, int required, _Out_ int *provided)'),
    finalized: lib.func('int MPI_Finalized(_Out_ int *flag)'),
    finalize: lib.func('int MPI_Finalize()'),
    commRank: lib.func('int MPI_Comm_rank(void *comm, _Out_ int *rank)'),
    commSize: lib.func('int MPI_Comm_size(void *comm, _Out_ int *size)'),
    // Buffers are passed as raw addresses (native memory, see native-buffer.ts): koffi copies JS typed arrays
    // through a small per-call heap, which a multi-megabyte collective must not go through.
    allreduce: lib.func('int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, void *datatype, void *op, void *comm)'),
    allgather: lib.func('int MPI_Allgather(void *sendbuf, int sendcount, void *sendtype, void *recvbuf, int recvcount, void *recvtype, void *comm)'),
    bcast: lib.func('int MPI_Bcast(void *buffer, int count, void *datatype, int root, void *comm)'),
    barrier: lib.func('int MPI_Barrier(void *comm)'),
    abort: lib.func('int MPI_Abort(void *comm, int errorcode)'),
    errorString: lib.func('int MPI_Error_string(int errorcode, _Out_ char *string, _Out_ int *resultlen)'),
  };
  return loaded;
}
