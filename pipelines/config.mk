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
# the synthetic data set
IMAGES    ?= 1300
PATIENTS  ?= 430
SYNTH_SIZE ?= 256
# the split, by patient
N_TRAIN   ?= 700
N_VAL     ?= 200
N_TEST    ?= 300
# network input and training: a narrow ResNet-50 on small pictures
SIZE      ?= 64
WIDTH     ?= 0.125
EPOCHS    ?= 6
BATCH     ?= 16
LR        ?= 0.002
TRAIN_FLAGS ?= --augment
else
# The study: NIH ChestX-ray14, normal vs abnormal.
OUT       ?= out
N_TRAIN   ?= 20000
N_VAL     ?= 5000
N_TEST    ?= 10000
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
