#ifndef TESSERA_CHDF5_SHIM_H
#define TESSERA_CHDF5_SHIM_H
#include <hdf5.h>

// HDF5's native type ids and property-list defaults are macros that open the library
// and read a global; Swift sees them only through these functions.
static inline hid_t tessera_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t tessera_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t tessera_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t tessera_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t tessera_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t tessera_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t tessera_h5s_all(void) { return H5S_ALL; }
static inline unsigned tessera_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned tessera_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t tessera_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t tessera_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t tessera_h5s_scalar_space(void) { return H5Screate(H5S_SCALAR); }
static inline int tessera_h5o_type_dataset(void) { return H5O_TYPE_DATASET; }

// A file-access list that opens the file through MPI-IO on `communicator` (an MPI_Comm,
// passed as a pointer so that Swift code using HDF5 need not import MPI's types).
static inline hid_t tessera_h5p_file_access_mpio(void *communicator) {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list < 0) return list;
    if (H5Pset_fapl_mpio(list, (MPI_Comm)communicator, MPI_INFO_NULL) < 0) { H5Pclose(list); return -1; }
    return list;
}

// A file-access list without HDF5's data-sieve buffer: a rank reading its columns of a
// row-major tensor then reads just those bytes of each row, not 64 KiB around them (which
// holds the other ranks' columns too).
static inline hid_t tessera_h5p_file_access_unsieved(void) {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list < 0) return list;
    H5Pset_sieve_buf_size(list, 0);
    return list;
}

// A dataset-creation list that never writes fill values: every element is written by some
// rank, and filling first would write the whole file twice.
static inline hid_t tessera_h5p_dataset_create_unfilled(void) {
    hid_t list = H5Pcreate(H5P_DATASET_CREATE);
    if (list < 0) return list;
    H5Pset_fill_time(list, H5D_FILL_TIME_NEVER);
    H5Pset_alloc_time(list, H5D_ALLOC_TIME_EARLY);
    return list;
}

// Silences HDF5's own error-stack printing: Tessera reports one line per error itself.
static inline void tessera_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

#endif
