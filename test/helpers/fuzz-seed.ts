import { env } from "cloudflare:workers";
import fc from "fast-check";

// Property runs are reproducible: the seed comes from FUZZ_SEED (vitest.config.ts), fixed by
// default so CI judges the same inputs every time; set FUZZ_SEED to explore others.
fc.configureGlobal({ seed: Number(env.FUZZ_SEED) });
