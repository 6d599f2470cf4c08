import { ensureSiteBuilt } from './site.js';

// Once per test run, before any test file: several files read the built site, and two builds running
// at once would overwrite each other.
export default function setup(): void {
  ensureSiteBuilt();
}
