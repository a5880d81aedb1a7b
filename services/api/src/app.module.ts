import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { Storage } from './storage/storage';
import { StorageService } from './storage/storage.service';
import { QueryController } from './http/query.controller';

/** The api service: storage sink (owner of the chDB directory) + read API. */
@Module({
  controllers: [QueryController],
  providers: [stageRuntimeProvider('storage'), { provide: Storage, useFactory: () => Storage.open() }, StorageService],
})
export class AppModule {}
