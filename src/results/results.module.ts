import { Module } from '@nestjs/common';

import { ResultsService } from './results.service';

/** Parsing of .nessus exports and the get_scan_results query; needs no configuration. */
@Module({ providers: [ResultsService], exports: [ResultsService] })
export class ResultsModule {}

export { ResultsService };
