import { describe, expect, test } from 'vitest';
import { COMMANDS, commandHelp, parseCommand, SPECS, UsageError } from '../src/args.ts';
import { main } from '../src/main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: { write: (s: string) => out.push(s) } as never, stderr: { write: (s: string) => err.push(s) } as never }, out, err };
}

describe('argument parsing', () => {
  test('flags, defaults and repeatable --set', () => {
    const p = parseCommand(['train', '--out', 'r', '--set', 'a.b=1', '--set', 'c=2', '--resume']);
    expect(p).toMatchObject({ command: 'train', help: false, flags: { out: 'r', set: ['a.b=1', 'c=2'], resume: true, config: 'voc' } });
    expect(parseCommand(['demo'])).toMatchObject({ flags: { config: 'demo', out: 'runs/demo' } });
    expect(parseCommand(['eval', '--checkpoint', 'c', '--out', 'o', '--limit', '5'])).toMatchObject({ flags: { limit: 5, split: 'val' } });
    expect(parseCommand(['cam', '--checkpoint', 'c', '--out', 'o'])).toMatchObject({ flags: { split: 'train' } });
    expect(parseCommand(['train', '--out', 'r'])).toMatchObject({ flags: { 'bucket-mb': 25 } });
    expect(parseCommand(['demo', '--bucket-mb', '0.5'])).toMatchObject({ flags: { 'bucket-mb': 0.5 } });
  });

  test('errors name the bad flag', () => {
    const err = (argv: string[]) => {
      try {
        parseCommand(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err(['train', '--out', 'x', '--lr', '3'])).toBe("train: unknown flag '--lr' (see seco train --help)");
    expect(err(['train', '--out'])).toBe("train: flag '--out' needs a value (see seco train --help)");
    expect(err(['train'])).toBe('train: --out DIR is required (see seco train --help)');
    expect(err(['eval', '--checkpoint', 'c', '--out', 'o', '--limit', 'ten'])).toBe("eval: --limit must be a positive integer, got 'ten'");
    expect(err(['train', '--out', 'o', '--bucket-mb', '0'])).toBe("train: --bucket-mb must be a positive number, got '0'");
    expect(err(['eval', '--checkpoint', 'c', '--out', 'o', '--split', 'test'])).toBe("eval: --split must be train or val, got 'test'");
    expect(err(['infer', '--checkpoint', 'c', '--out', 'o'])).toBe('infer: give at least one IMAGE (see seco infer --help)');
    expect(err(['train', '--out', 'o', 'extra'])).toBe("train: unexpected argument 'extra' (see seco train --help)");
    expect(err(['fly'])).toBe(`unknown command 'fly' (commands: ${COMMANDS.join(', ')})`);
    expect(err(['prepare'])).toBe('prepare: give at least one voc|coco|pretrained (see seco prepare --help)');
  });

  test.each(COMMANDS)('%s --help lists every flag', (c) => {
    const p = parseCommand([c, '--help']);
    expect(p.help).toBe(true);
    const text = commandHelp(c);
    expect(text).toContain(`seco ${c}:`);
    for (const f of Object.keys(SPECS[c].flags)) expect(text).toContain(`--${f}`);
  });

  test('main: exit 2 on usage errors, 1 on config errors, 0 on help', async () => {
    let c = capture();
    expect(await main(['train', '--out', 'x', '--bogus'], c.io)).toBe(2);
    expect(c.err.join('')).toContain("unknown flag '--bogus'");
    c = capture();
    expect(await main(['train', '--out', 'x', '--set', 'train.lr=-1'], c.io)).toBe(1);
    expect(c.err.join('')).toBe('seco: config train.lr: got -1, expected a number > 0\n');
    c = capture();
    expect(await main(['prepare', 'mars'], c.io)).toBe(2);
    expect(c.err.join('')).toContain("prepare: give one of voc, coco, pretrained, got 'mars'");
    c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out.join('')).toContain('usage: seco <command>');
    expect(c.out.join('')).toContain('seco prepare voc');
  });
});
