/* resnet_file — the one place where the network meets the model file:
 * a cxr_resnet's configuration and tensors to and from a .cxm container
 * (man/cxr-model.5). The engine (nn/) knows no file format and the
 * container (data/model_file) knows no network; this module maps the
 * one onto the other: architecture metadata (arch, width_mult,
 * in_channels, input_height, input_width, head_hidden, dropout) and
 * every tensor under its state_dict name in PyTorch's layout. */
#ifndef CXR_RESNET_FILE_H
#define CXR_RESNET_FILE_H
#include "data/model_file.h"
#include "nn/resnet.h"

/* The arch metadata value of an architecture (CXR_ARCH_*): "resnet50"
 * (torchvision's) or "keras-resnet50". */
const char *cxr_resnet_arch_name(int arch);
/* Adds the network's metadata and tensors to m. */
int cxr_resnet_to_model(const cxr_resnet *net, cxr_model *m);
/* A network built from a model's metadata with its tensors loaded; NULL
 * with cxr_errmsg() naming the key or tensor at fault. */
cxr_resnet *cxr_resnet_from_model(const cxr_model *m, int max_batch);
/* Loads the tensors of m into an existing network of the same shapes. */
int cxr_resnet_load_tensors(cxr_resnet *net, const cxr_model *m);
/* The configuration from a model's metadata; -1 with cxr_errmsg() set. */
int cxr_resnet_config_from_model(cxr_resnet_config *cfg, const cxr_model *m);

#endif
