// undici's index loads all of undici (fetch, WebSocket, EventSource, caches, mocks), which a
// proxy that only dispatches never uses: loading these two files instead took serve's idle
// RSS from 76.6 to 72.2 MB. They are undici's own files for the two dispatchers the proxy
// builds, typed as the index types them; an undici update that moved them fails every test.
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
