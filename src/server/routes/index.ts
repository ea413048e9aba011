/**
 * Route registry: each module's routes in one file, added here with one line.
 */
import type { FastifyInstance } from 'fastify';
import type { NodeServices } from '../context.ts';
import { coreRoutes } from './core.ts';
import { authRoutes } from './auth.ts';
import { chainRoutes } from './chain.ts';
import { datanetRoutes } from './datanets.ts';
import { fineTuningRoutes } from './fine-tuning.ts';
import { inferenceRoutes } from './inference.ts';
import { rewardsRoutes } from './rewards.ts';
import { governanceRoutes } from './governance.ts';
import { attributionRoutes } from './attribution.ts';
import { studioRoutes } from './studio.ts';
import { adapterFileRoutes } from './adapter-files.ts';
import { metricsRoutes } from './metrics.ts';

export async function registerRoutes(app: FastifyInstance, s: NodeServices): Promise<void> {
  await coreRoutes(app, s);
  await authRoutes(app, s);
  await chainRoutes(app, s);
  await datanetRoutes(app, s);
  await fineTuningRoutes(app, s);
  await inferenceRoutes(app, s);
  await metricsRoutes(app, s); // after inference: the same ModelServer
  await rewardsRoutes(app, s);
  await governanceRoutes(app, s);
  await attributionRoutes(app, s); // after rewards: hands it the WeightSource
  await adapterFileRoutes(app, s);
  await studioRoutes(app, s);
}
