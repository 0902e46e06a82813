/** Cross-node delivery (test/support/cross-node/delivery.ts) on the run's three-master Redis Cluster. */
import { crossNodeDelivery } from '../support/cross-node/delivery.js';

crossNodeDelivery('cluster');
