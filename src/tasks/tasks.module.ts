import { Module } from '@nestjs/common';
import { FileTaskStore } from './file-task.store';
import { TaskIndex } from './task-index';
import { TaskStore } from './task.store';
import { TasksService } from './tasks.service';

/** Tasks: the file store (source of truth), the Redis listing index and the service over both. */
@Module({
  providers: [{ provide: TaskStore, useClass: FileTaskStore }, TaskIndex, TasksService],
  exports: [TaskStore, TaskIndex, TasksService],
})
export class TasksModule {}
