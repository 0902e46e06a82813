/** Cross-node caps (test/support/cross-node/caps.ts) on the run's standalone Redis. */
import { crossNodeCaps } from '../support/cross-node/caps.js';

crossNodeCaps('standalone');
