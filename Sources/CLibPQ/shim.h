#ifndef SKALD_CLIBPQ_SHIM_H
#define SKALD_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
