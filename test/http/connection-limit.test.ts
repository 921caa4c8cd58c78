import t from 'tap';
import { ConnectionLimit, ConnectionWaitTimeout, DEFAULT_MAX_CONNECTIONS } from '../../src/http/connection-limit.ts';

t.test('requests past the bound are told they wait; finished ones make room', async (t) => {
  const limit = new ConnectionLimit('https://api.test', 2);
  t.same([limit.enter(), limit.enter()], [false, false], 'two connections for two requests');
  t.equal(limit.enter(), true, 'the third waits');
  limit.leave();
  t.equal(limit.inFlight, 2);
  limit.leave();
  t.equal(limit.enter(), false, 'one finished: the next has a connection again');
});

t.test('the busy notice: when the first request waits, then at most once a minute', async (t) => {
  const notices: Array<[string, number]> = [];
  let now = 1_000;
  const limit = new ConnectionLimit(
    'https://api.test',
    1,
    (origin, max) => notices.push([origin, max]),
    () => now,
  );
  limit.enter();
  limit.enter();
  limit.enter();
  t.same(notices, [['https://api.test', 1]], 'two waiting requests, one notice');
  now += 59_000;
  limit.enter();
  t.equal(notices.length, 1, 'not again within the minute');
  now += 1_000;
  limit.enter();
  t.equal(notices.length, 2, 'again after it');
});

t.test('a wait that timed out says how many connections and how long', async (t) => {
  const error = new ConnectionWaitTimeout(DEFAULT_MAX_CONNECTIONS, 2_500);
  t.match(error, { name: 'ConnectionWaitTimeout', code: 'BP_CONNECTION_WAIT_TIMEOUT', message: 'all 64 connections to the upstream stayed busy for 2500 ms' });
});
