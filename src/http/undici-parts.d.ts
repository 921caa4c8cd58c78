// undici's index loads all of undici (fetch, WebSocket, EventSource, caches, mocks): ~9 MB
// of resident memory that a proxy which only dispatches never uses. These are its own
// files for the two dispatchers the proxy builds, typed as the index types them.
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import type { EnvHttpProxyAgent } from 'undici';
  const EnvHttpProxyAgentClass: typeof EnvHttpProxyAgent;
  export default EnvHttpProxyAgentClass;
}
