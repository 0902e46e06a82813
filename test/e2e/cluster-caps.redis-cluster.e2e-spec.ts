/** Cross-node caps (test/support/cross-node/caps.ts) on the run's three-master Redis Cluster. */
import { crossNodeCaps } from '../support/cross-node/caps.js';

crossNodeCaps('cluster');
