"""`nnstudy version`: the versions of nnstudy and of the libraries it runs on."""

from __future__ import annotations

from nnstudy.cli.app import app, console


@app.command()
def version() -> None:
    """Print the versions of nnstudy, PyTorch and NumPy, and the device torch sees."""
    import numpy
    import torch

    import nnstudy

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    console.print(
        f"nnstudy {nnstudy.__version__}  torch {torch.__version__}  numpy {numpy.__version__}"
        f"  ({cuda})",
        highlight=False,
    )
