/** Cross-node state (test/support/cross-node/state.ts) on the run's standalone Redis. */
import { crossNodeState } from '../support/cross-node/state.js';

crossNodeState('standalone');
