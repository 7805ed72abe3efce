#ifndef CLibUV_SHIM_H
#define CLibUV_SHIM_H
#include <uv.h>
#endif
