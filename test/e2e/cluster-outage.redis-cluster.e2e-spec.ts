/** Cross-node outage (test/support/cross-node/outage.ts) on the run's three-master Redis Cluster. */
import { crossNodeOutage } from '../support/cross-node/outage.js';

crossNodeOutage('cluster');
