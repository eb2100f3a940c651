import { Module } from '@nestjs/common';
import { ControlClient } from './control.client';

/** Commands to the worker that owns a session (recover, stop, faults, pairing, number checks). */
@Module({ providers: [ControlClient], exports: [ControlClient] })
export class ControlModule {}
