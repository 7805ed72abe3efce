// Open MPI's C API for Swift. MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ... are macros over casts of global
// objects that Swift cannot import, so these inline functions hand them over as values.
#ifndef CAPILLARY_CMPI_SHIM_H
#define CAPILLARY_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm capillary_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype capillary_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype capillary_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype capillary_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype capillary_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op capillary_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op capillary_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op capillary_mpi_min(void) { return MPI_MIN; }
static inline MPI_Errhandler capillary_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *capillary_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int capillary_mpi_success(void) { return MPI_SUCCESS; }
static inline int capillary_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int capillary_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
#endif
