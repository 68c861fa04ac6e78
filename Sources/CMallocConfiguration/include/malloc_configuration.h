#ifndef SKALD_MALLOC_CONFIGURATION_H
#define SKALD_MALLOC_CONFIGURATION_H

// The `skald` executable's jemalloc options (`malloc_conf`, defined in malloc_configuration.c).
// Nothing here is called: linking the target into the executable is what sets them.
extern const char *malloc_conf;

#endif
