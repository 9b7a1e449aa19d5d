// A stand-in for Atlassian's all.js, served by Pageshare's simulated Confluence host, with the
// part of the AP object Pageshare uses. Real Confluence answers AP.context.getToken() through
// postMessage from the parent page; this stand-in trades the page's own iframe token (?jwt=)
// for a context token at the host, which verifies it like Confluence would.
'use strict';

(() => {
  const endpoint = new URL('context-token', document.currentScript.src).href;
  const iframeToken = new URLSearchParams(window.location.search).get('jwt');

  async function contextToken() {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jwt: iframeToken }),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (!response.ok) throw new Error(`the host refused a context token (${response.status})`);
    return (await response.json()).token;
  }

  window.AP = {
    context: {
      // AP.context.getToken(callback), or the promise AP.context.getToken() returns.
      getToken(callback) {
        const token = contextToken();
        if (typeof callback !== 'function') return token;
        token.then(callback, () => callback(undefined));
        return undefined;
      },
    },
    resize() {},
    sizeToParent() {},
  };
})();
