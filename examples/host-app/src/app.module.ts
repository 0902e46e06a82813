import { Module } from '@nestjs/common';
import { RealtimeModule } from '@logistics/realtime-layer';
import { ShipmentEvents } from './shipment-events.service.js';
import { ShipmentsController } from './shipments.controller.js';

@Module({
  imports: [RealtimeModule.forRoot({ jwt: { secret: process.env.JWT_SECRET } })],
  controllers: [ShipmentsController],
  providers: [ShipmentEvents],
})
export class AppModule {}
