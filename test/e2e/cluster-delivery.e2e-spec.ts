/** Cross-node delivery (test/support/cross-node/delivery.ts) on the run's standalone Redis. */
import { crossNodeDelivery } from '../support/cross-node/delivery.js';

crossNodeDelivery('standalone');
