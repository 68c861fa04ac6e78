#include "malloc_configuration.h"

// jemalloc reads this at start, before the MALLOC_CONF environment variable, which still
// overrides it. Freed pages go back to the system after 1 s instead of jemalloc's 10 s: a burst
// of work (100,000 sagas started at once) otherwise keeps its transient pages for 10 s, and
// `skald serve` peaked above the 150 MB the orchestrator promises with 100,000 sagas in flight.
// Measured in docs/benchmarks-orchestrator.md (sessions 8 and 11): about 10 MB less at the
// peak, for 1-2 % of throughput in the orchestrator benchmark.
//
// One arena rather than jemalloc's four per core: pages freed by one thread's arena cannot
// serve another's allocations, and with a dozen threads (the cooperative pool, a thread per
// Postgres connection, librdkafka's) the burst's peak was 7-9 MB higher. No throughput cost
// measurable on two cores (docs/benchmarks-orchestrator.md, session 14).
const char *malloc_conf = "dirty_decay_ms:1000,narenas:1";
