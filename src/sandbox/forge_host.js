// The sandbox's stand-in for the script Forge's Custom UI host injects before a page's own:
// `globalThis.__bridge.callBridge(name, payload)`, which @forge/bridge calls. Only the calls
// Pageshare's pages make are played: the page's context and invokeRemote; the rest do nothing.
'use strict';

(() => {
  async function call(url, init) {
    const response = await fetch(url, { cache: 'no-store', ...init });
    if (!response.ok) throw new Error(`The sandbox's Forge host answered ${response.status}.`);
    return response.json();
  }

  const handlers = {
    getContext: () => call('./context'),
    async invoke(payload) {
      if (!payload || payload.invokeType !== 'ui-remote-fetch') {
        throw new Error('The sandbox plays only invokeRemote.');
      }
      const { path, method, body } = payload;
      const answer = await call('./invoke', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ path, method, body }),
      });
      if (answer.rejected) throw new Error(answer.rejected);
      return answer;
    },
  };

  globalThis.__bridge = {
    callBridge: async (name, payload) => (handlers[name] ? handlers[name](payload) : undefined),
  };
})();
