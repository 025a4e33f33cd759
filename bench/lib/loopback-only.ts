import { Server } from 'node:net';

/**
 * Preloaded (`node --import`) into third-party servers the bench starts, such as
 * Portkey's gateway, that listen on every interface with no option to choose: a
 * listen() without a host is bound to 127.0.0.1 instead, so the bench stays on
 * loopback. It acts on import because a preload has no other way to run.
 */
const original = Server.prototype.listen;
Server.prototype.listen = function loopbackListen(this: Server, ...args: unknown[]): Server {
  const [first, second] = args;
  if (typeof first === 'number' && typeof second !== 'string') {
    args = [first, '127.0.0.1', ...args.slice(second === undefined ? 2 : 1)];
  } else if (typeof first === 'object' && first !== null && !('host' in first) && !('path' in first) && !('fd' in first)) {
    args = [{ ...first, host: '127.0.0.1' }, ...args.slice(1)];
  }
  return Reflect.apply(original, this, args) as Server;
};
