#ifndef TESSERA_CMPI_SHIM_H
#define TESSERA_CMPI_SHIM_H
#include <mpi.h>

// OpenMPI spells these handles as macros over addresses of globals, which Swift cannot
// import; each inline function hands one of them to Swift as a value.
static inline MPI_Comm tessera_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm tessera_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype tessera_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype tessera_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype tessera_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype tessera_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype tessera_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op tessera_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op tessera_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler tessera_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request tessera_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *tessera_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline void *tessera_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int tessera_mpi_success(void) { return MPI_SUCCESS; }
static inline int tessera_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
