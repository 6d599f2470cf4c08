import { lacVitestConfig } from '../../vitest.shared.ts';

export default lacVitestConfig();
