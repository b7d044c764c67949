# Parameters of the pipelines (demo.mk, nih-binary.mk). Each can be
# overridden on the command line, `make -f pipelines/demo.mk EPOCHS=6`,
# or from the environment. The including makefile sets PIPELINE first;
# its block gives the defaults. A stage is remade when its parameters
# change (see the .params files in OUT).

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
SEED      ?= 1
# The tools: the ones built in this tree, unless BIN says otherwise
# (BIN=/usr/local/bin after `make install`).
BIN       ?= $(TOP)/bin

ifeq ($(PIPELINE),demo)
OUT       ?= demo-out
# the synthetic data set (PATIENTS 0: about one for 3.7 images)
IMAGES    ?= 5500
PATIENTS  ?= 1500
SYNTH_SIZE ?= 256
# the split, by patient; whole patients are drawn, so the three sets
# need some slack below IMAGES
N_TRAIN   ?= 4000
N_VAL     ?= 500
N_TEST    ?= 800
# network input and training: a narrow ResNet-50 on small pictures. From
# scratch it needs a few thousand images and a brisk learning rate before
# it finds the lesions (from about the sixth epoch here); without the
# light augmentation it overfits after epoch 11 (validation AUC 0.94,
# 0.977 with it).
SIZE      ?= 64
WIDTH     ?= 0.125
EPOCHS    ?= 20
BATCH     ?= 32
LR        ?= 0.003
TRAIN_FLAGS ?= --augment
else
# The study: NIH ChestX-ray14, normal vs abnormal.
OUT       ?= out
N_TRAIN   ?= 20000
N_VAL     ?= 5000
# With a test list (nih-binary.mk's TEST_LIST, NIH's test_list.txt when
# it is there) the test set is every listed image; N_TEST=10000 draws that
# many of them instead. Without a list, 10000 images drawn by patient.
N_TEST    ?= $(if $(TEST_LIST),all,10000)
# PA,AP (both, the default) or PA alone
VIEWS     ?=
SIZE      ?= 256
WIDTH     ?= 1
EPOCHS    ?= 10
BATCH     ?= 32
LR        ?= 0.001
TRAIN_FLAGS ?=
endif

# Evaluation: the threshold is the model's (picked on the validation set)
# unless THRESHOLD gives a number, youden or sens=X; groups for cxr-bias.
THRESHOLD ?=
BIAS_BY   ?= --by sex --by age:10 --by view
