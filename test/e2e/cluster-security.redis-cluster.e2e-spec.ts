/** Cross-node security (test/support/cross-node/security.ts) on the run's three-master Redis Cluster. */
import { crossNodeSecurity } from '../support/cross-node/security.js';

crossNodeSecurity('cluster');
