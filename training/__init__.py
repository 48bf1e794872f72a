"""Training: the demonstration dataset, the normaliser, the loss, the loop and its checkpoints."""

# torchvision loads torch's compiler stack (triton, with its own LLVM) on first import. Loaded after
# Mesa's llvmpipe has made a GL context in the same process, that import segfaults (measured: a
# process that collected demos and then built a model). Importing it with the package, before any
# environment renders, avoids the clash.
import torchvision  # noqa: F401
