/** Cross-node outage (test/support/cross-node/outage.ts) on the run's standalone Redis. */
import { crossNodeOutage } from '../support/cross-node/outage.js';

crossNodeOutage('standalone');
