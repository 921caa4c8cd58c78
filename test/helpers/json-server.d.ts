// json-server 0.17 ships no types; the tests use its module API: an express app, its
// default middleware and its router over an in-memory database.
declare module 'json-server' {
  import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
  type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  interface App extends RequestListener {
    use(...handlers: Array<Middleware | Middleware[]>): App;
  }
  const jsonServer: {
    create(): App;
    defaults(options?: { logger?: boolean; noCors?: boolean }): Middleware[];
    router(db: object): Middleware;
  };
  export default jsonServer;
}
