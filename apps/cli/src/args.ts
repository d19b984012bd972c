// Subcommands, their flags and help texts, parsed with node:util parseArgs. Every error names the bad flag.
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

type FlagType = 'string' | 'boolean';
interface Flag {
  type: FlagType;
  short?: string;
  multiple?: boolean;
  /** The argument name shown in help for string flags (e.g. FILE). */
  value?: string;
  help: string;
  required?: boolean;
  default?: string;
  int?: boolean;
  /** A positive number (a fraction allowed). */
  positive?: boolean;
}

export const COMMANDS = ['prepare', 'train', 'eval', 'cam', 'merge', 'infer', 'demo'] as const;
export type CommandName = (typeof COMMANDS)[number];

const config: Flag = { type: 'string', value: 'NAME|FILE', help: 'preset (voc, coco, demo) or JSON config file, which may "extends" one', default: 'voc' };
const nanCheck: Flag = { type: 'boolean', help: 'find the first op that makes a NaN or Inf when training diverges (slow; config debug.nan_check)' };
const set: Flag = { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'override one config key, e.g. train.max_iters=100 (repeatable; VALUE is JSON or a string)' };
const checkpoint: Flag = { type: 'string', value: 'FILE', help: 'checkpoint (.safetensors from seco train) to load', required: true };
const limit: Flag = { type: 'string', value: 'N', help: 'only the first N images of the list', int: true };
const list: Flag = { type: 'string', value: 'FILE', help: 'a list file instead of the config split' };
const help: Flag = { type: 'boolean', short: 'h', help: 'show this help' };
const checkWeights: Flag = {
  type: 'string',
  value: 'K',
  help: 'under mpirun: compare a hash of every rank\'s weights every K iterations (and after the first and last); a mismatch stops the run naming the rank',
  default: '100',
  int: true,
};
const bucketMb: Flag = {
  type: 'string',
  value: 'MB',
  help: "under mpirun: gradient bucket size in MiB (DDP's bucket_cap_mb); a bucket is read back and all-reduced as soon as backward completes it",
  default: '25',
  positive: true,
};
const shard: Flag = {
  type: 'string',
  value: 'I/N',
  help: 'score only every N-th image from the I-th (0-based), as one job of N (Slurm arrays, indexed jobs); then seco merge --out DIR',
};

interface CommandSpec {
  summary: string;
  usage: string;
  flags: Record<string, Flag>;
  positionals?: string;
}

export const SPECS: Record<CommandName, CommandSpec> = {
  prepare: {
    summary: 'download, check and lay out VOC 2012 + SBD, COCO 2014 or the pretrained ViT-B/16',
    usage: 'seco prepare voc|coco|pretrained [--root DIR] [--from URL|DIR]',
    positionals: 'voc|coco|pretrained',
    flags: {
      root: { type: 'string', value: 'DIR', help: 'where the dataset goes (default data, where the presets read it); for pretrained, the weights folder (default $SECO_CACHE, else the user cache)' },
      from: { type: 'string', value: 'URL|DIR', help: 'a folder holding the archives already (offline machines), or a mirror URL, instead of the original sites' },
      help,
    },
  },
  train: {
    summary: 'train SeCo; logs, checkpoints and loss.png go to --out',
    usage: 'seco train --config voc --out runs/voc [--resume] [--set KEY=VALUE]...',
    flags: {
      config,
      set,
      out: { type: 'string', value: 'DIR', help: 'run folder: config.json, log.jsonl, checkpoints/, loss.png', required: true },
      resume: { type: 'boolean', help: 'continue from the newest readable checkpoint in --out' },
      'nan-check': nanCheck,
      'check-weights': checkWeights,
      'bucket-mb': bucketMb,
      help,
    },
  },
  eval: {
    summary: 'segmentation mIoU of a checkpoint: prediction PNGs, IoU table, contact sheet',
    usage: 'seco eval --config voc --checkpoint run/checkpoints/step-00020000.safetensors --out eval/ [--split val] [--limit N] [--shard I/N]',
    flags: {
      config,
      set,
      checkpoint,
      out: { type: 'string', value: 'DIR', help: 'where pred/*.png, iou.{txt,json,md} and sheet.png go', required: true },
      split: { type: 'string', value: 'train|val', help: 'which list of the config to score', default: 'val' },
      list,
      limit,
      shard,
      help,
    },
  },
  cam: {
    summary: 'CAM seed quality (cam_to_label with ground-truth image labels, §5): mIoU and pictures',
    usage: 'seco cam --config voc --checkpoint FILE --out cam/ [--split train] [--limit N] [--shard I/N]',
    flags: {
      config,
      set,
      checkpoint,
      out: { type: 'string', value: 'DIR', help: 'where pred/*.png (seeds), iou.* and sheet.png go', required: true },
      split: { type: 'string', value: 'train|val', help: 'which list of the config to score (SeCo reports CAM on train)', default: 'train' },
      list,
      limit,
      shard,
      help,
    },
  },
  merge: {
    summary: 'sum the records of every seco eval/cam --shard job in a folder into iou.{txt,json,md}',
    usage: 'seco merge --out eval/',
    flags: {
      out: { type: 'string', value: 'DIR', help: 'the --out folder the shards wrote their records-I-of-N.jsonl to', required: true },
      help,
    },
  },
  infer: {
    summary: 'segment image files: <name>.png in the VOC palette and <name>_overlay.png',
    usage: 'seco infer --config voc --checkpoint FILE --out pred/ IMAGE...',
    positionals: 'IMAGE...',
    flags: {
      config,
      set,
      checkpoint,
      out: { type: 'string', value: 'DIR', help: 'output folder', required: true },
      help,
    },
  },
  demo: {
    summary: 'generate the synthetic co-occurrence set and train the tiny demo model on it',
    usage: 'seco demo [--out runs/demo] [--set train.max_iters=100]',
    flags: {
      config: { ...config, default: 'demo' },
      set,
      out: { type: 'string', value: 'DIR', help: 'run folder (the synthetic set goes to DIR/synthetic)', default: 'runs/demo' },
      images: { type: 'string', value: 'N', help: 'synthetic images to generate when DIR/synthetic does not exist yet (default: data.synthetic.images, 2000 in the demo preset)', int: true },
      resume: { type: 'boolean', help: 'continue from the newest readable checkpoint in --out' },
      'nan-check': nanCheck,
      'check-weights': checkWeights,
      'bucket-mb': bucketMb,
      help,
    },
  },
};

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.length));
  return [
    'usage: seco <command> [flags]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.padEnd(w)}  ${SPECS[c].summary}`),
    '',
    'seco <command> --help shows the flags of a command.',
    '',
    'from a fresh clone to training on VOC:',
    '  npx seco prepare voc          # VOC 2012 + SBD masks, lists, labels into data/',
    '  npx seco prepare pretrained   # timm ViT-B/16 into the cache',
    '  npx seco train --config voc --out runs/voc',
    '',
  ].join('\n');
}

export function commandHelp(name: CommandName): string {
  const spec = SPECS[name];
  const rows = Object.entries(spec.flags).map(([k, f]) => {
    const left = `${f.short ? `-${f.short}, ` : ''}--${k}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;
    const extra = f.required ? ' (required)' : f.default !== undefined ? ` (default ${f.default})` : '';
    return [left, `${f.help}${extra}`] as const;
  });
  const w = Math.max(...rows.map(([l]) => l.length));
  return [`seco ${name}: ${spec.summary}`, '', `usage: ${spec.usage}`, '', 'flags:', ...rows.map(([l, r]) => `  ${l.padEnd(w)}  ${r}`), ''].join('\n');
}

export type FlagValues = Record<string, string | boolean | string[] | number | undefined>;

export interface ParsedCommand {
  command: CommandName;
  flags: FlagValues;
  positionals: string[];
  help: boolean;
}

export type Parsed = ParsedCommand | { command: null; help: true };

export function parseCommand(argv: readonly string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { command: null, help: true };
  if (!(COMMANDS as readonly string[]).includes(first)) throw new UsageError(`unknown command '${first}' (commands: ${COMMANDS.join(', ')})`);
  const name = first as CommandName;
  const spec = SPECS[name];
  const options: Record<string, { type: FlagType; short?: string; multiple?: boolean }> = {};
  for (const [k, f] of Object.entries(spec.flags)) options[k] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: spec.positionals !== undefined, strict: true });
  } catch (e) {
    throw new UsageError(`${name}: ${rewordParseError((e as Error).message)} (see seco ${name} --help)`);
  }
  const flags: FlagValues = { ...parsed.values } as FlagValues;
  if (flags.help) return { command: name, flags, positionals: parsed.positionals, help: true };
  for (const [k, f] of Object.entries(spec.flags)) {
    if (flags[k] === undefined && f.default !== undefined) flags[k] = f.default;
    if (f.required && flags[k] === undefined) throw new UsageError(`${name}: --${k} ${f.value ?? ''} is required (see seco ${name} --help)`.replace(' )', ')'));
    if (f.int && typeof flags[k] === 'string') {
      const v = flags[k] as string;
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name}: --${k} must be a positive integer, got '${v}'`);
      flags[k] = Number(v);
    }
    if (f.positive && typeof flags[k] === 'string') {
      const v = Number(flags[k]);
      if (!(Number.isFinite(v) && v > 0)) throw new UsageError(`${name}: --${k} must be a positive number, got '${flags[k]}'`);
      flags[k] = v;
    }
  }
  if ('split' in spec.flags && flags.split !== 'train' && flags.split !== 'val') {
    throw new UsageError(`${name}: --split must be train or val, got '${flags.split}'`);
  }
  if (spec.positionals && parsed.positionals.length === 0) throw new UsageError(`${name}: give at least one ${spec.positionals.replace('...', '')} (see seco ${name} --help)`);
  return { command: name, flags, positionals: parsed.positionals, help: false };
}

/** node's messages, shortened to the part that names the flag. */
function rewordParseError(msg: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(msg);
  if (unknown) return `unknown flag '${unknown[1]}'`;
  const missing = /Option '(-\S+)(?:, (--\S+))?[^']*' argument missing/.exec(msg);
  if (missing) return `flag '${missing[2] ?? missing[1]}' needs a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(msg);
  if (positional) return `unexpected argument '${positional[1]}'`;
  return msg.split('. ')[0];
}
