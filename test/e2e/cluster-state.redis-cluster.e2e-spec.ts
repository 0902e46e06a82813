/** Cross-node state (test/support/cross-node/state.ts) on the run's three-master Redis Cluster. */
import { crossNodeState } from '../support/cross-node/state.js';

crossNodeState('cluster');
