/** Cross-node security (test/support/cross-node/security.ts) on the run's standalone Redis. */
import { crossNodeSecurity } from '../support/cross-node/security.js';

crossNodeSecurity('standalone');
