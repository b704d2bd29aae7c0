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

// Silences HDF5's own error-stack printing: Tessera reports one line per error itself.
static inline void tessera_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

#endif
