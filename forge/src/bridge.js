// The Custom UI's only dependency: Atlassian's @forge/bridge, bundled by scripts/build.mjs into
// forge-bridge.js next to each page. The pages' scripts (common.js) use it through
// `window.PageshareForge`, so the same scripts run in Connect iframes without a bundler.
import { invokeRemote, view } from '@forge/bridge';

window.PageshareForge = {
  invokeRemote,
  getContext: () => view.getContext(),
};
