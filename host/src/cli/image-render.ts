// `tspod image render`: see image-extract.ts.
import { makeExtractCommand } from './image-extract.js';

export const run = makeExtractCommand('render').run;
