import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { FLAGS, flagLabel, GLOBAL_FLAGS, IDPS, LOG_FORMATS, LOG_LEVELS, type FlagName, type FlagSpec } from '../../src/cli/flags.ts';
import { starterConfig } from '../../src/cli/starter-config.ts';

const names = Object.keys(FLAGS) as FlagName[];
const spec = (name: FlagName): FlagSpec => FLAGS[name];

t.test('a flag is labelled as help and usage errors show it: short form, long form, value placeholder', async (t) => {
  t.equal(flagLabel('config'), '-c, --config FILE');
  t.equal(flagLabel('port'), '--port PORT');
  t.equal(flagLabel('log-level'), '--log-level LEVEL');
  t.equal(flagLabel('fetch-tokens'), '--fetch-tokens', 'a boolean takes no value');
  t.equal(flagLabel('help'), '-h, --help');
  t.equal(flagLabel('version'), '-v, --version');
});

t.test('each short form stands for one flag only', async (t) => {
  const shorts = names.map((name) => spec(name).short).filter((short): short is string => short !== undefined);
  t.same(shorts.toSorted(), ['c', 'h', 'v']);
  for (const short of shorts) t.match(short, /^[a-z]$/, `-${short} is one letter`);
});

t.test('a flag that takes a value names it, and a switch names none', async (t) => {
  for (const name of names) {
    const { type, value } = spec(name);
    if (type === 'string') t.match(value, /^[A-Z]+$/, `--${name} shows its value as a placeholder`);
    else t.equal(value, undefined, `--${name} is a switch: "--${name} X" would be refused`);
    t.ok(spec(name).description.length > 10, `--${name} says what it does`);
  }
});

t.test('the log levels offered are exactly the ones pino accepts', async (t) => {
  t.same([...LOG_LEVELS].toSorted(), [...Object.keys(pino.levels.values), 'silent'].toSorted(), 'none missing, none pino would throw a stack trace at');
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  for (const level of LOG_LEVELS) t.doesNotThrow(() => pino({ level }, sink), level);
  t.same(FLAGS['log-level'].choices, LOG_LEVELS, '--log-level is checked against them');
  t.same(FLAGS['log-format'].choices, LOG_FORMATS);
  t.same(LOG_FORMATS, ['json', 'pretty']);
});

t.test('every --idp choice has a starter file, and the default is one of them', async (t) => {
  t.same(FLAGS.idp.choices, IDPS);
  t.ok((IDPS as readonly string[]).includes(FLAGS.idp.default), `the default, ${FLAGS.idp.default}, is a choice`);
  for (const idp of IDPS) t.match(starterConfig(idp, { schemaRef: './proxy.schema.json', configArg: '' }).text, /^tokens:/m, `${idp} has a starter file`);
});

t.test('numbers are checked against the range the server can use', async (t) => {
  t.same(FLAGS.port.range, [0, 65535], 'port 0 takes a free one; 65535 is the largest TCP port');
  t.same(FLAGS.workers.range, [1, 64]);
  const [min, max] = FLAGS.workers.range;
  t.ok(Number(FLAGS.workers.default) >= min && Number(FLAGS.workers.default) <= max, 'the default number of workers is within its own range');
});

t.test('--help and --version, which every command accepts, are switches', async (t) => {
  t.same(GLOBAL_FLAGS, ['help', 'version']);
  for (const name of GLOBAL_FLAGS) t.equal(spec(name).type, 'boolean', `--${name} is a switch`);
});
