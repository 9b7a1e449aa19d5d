// The sandbox's stand-in for the app's bundle of @forge/bridge (forge/src/bridge.js), used until
// that bundle is built: the same `window.PageshareForge`, over the host's `__bridge` the way
// @forge/bridge 7 does it.
'use strict';

(() => {
  const call = (name, payload) => globalThis.__bridge.callBridge(name, payload);
  window.PageshareForge = {
    async invokeRemote(input) {
      const { success, payload, error } = (await call('invoke', { ...input, invokeType: 'ui-remote-fetch' })) || {};
      const response = { ...(success ? payload : error) };
      for (const name of Object.keys(response.headers || {})) {
        if (Array.isArray(response.headers[name])) response.headers[name] = response.headers[name].join(',');
      }
      return response;
    },
    getContext: () => call('getContext'),
  };
})();
