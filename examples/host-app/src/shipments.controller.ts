import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ShipmentEvents } from './shipment-events.service.js';

interface StatusBody {
  status?: string;
}

interface NotifyBody {
  title?: string;
}

@Controller()
export class ShipmentsController {
  constructor(private readonly events: ShipmentEvents) {}

  @Get()
  hello(): { service: string } {
    return { service: 'shipments-host' };
  }

  @Post('shipments/:id/status')
  @HttpCode(202)
  async status(@Param('id') id: string, @Body() body: StatusBody): Promise<{ published: string }> {
    await this.events.statusChanged(id, body.status ?? 'unknown');
    return { published: 'tracking.update' };
  }

  @Post('users/:id/notify')
  @HttpCode(202)
  async notify(@Param('id') id: string, @Body() body: NotifyBody): Promise<{ published: string }> {
    await this.events.notifyUser(id, body.title ?? 'update');
    return { published: 'notification' };
  }
}
