//! Choosing the compute device by name and naming it for people: one place for the CLI's
//! `--device` and the editor's Model menu.

/// Picks the compute device: `cpu`, `cuda` (GPU 0) or `cuda:N`.
pub fn parse_device(name: &str) -> anyhow::Result<candle_core::Device> {
    match name {
        "cpu" => Ok(candle_core::Device::Cpu),
        _ if name == "cuda" || name.starts_with("cuda:") => {
            let ordinal = name
                .strip_prefix("cuda:")
                .map(str::parse)
                .transpose()?
                .unwrap_or(0);
            candle_core::Device::new_cuda(ordinal).map_err(|e| {
                anyhow::anyhow!("CUDA device {ordinal} unavailable ({e}); build with `--features cuda` on a machine with a GPU")
            })
        }
        other => anyhow::bail!("unknown device `{other}` (use cpu, cuda or cuda:N)"),
    }
}

/// What the device is, for people: `CPU`, `NVIDIA H200 (cuda:0)`.
pub fn device_name(device: &candle_core::Device) -> String {
    match device {
        candle_core::Device::Cpu => "CPU".into(),
        #[cfg(feature = "cuda")]
        candle_core::Device::Cuda(d) => {
            let stream = d.cuda_stream();
            let ctx = stream.context();
            let name = ctx.name().unwrap_or_else(|_| "CUDA GPU".into());
            format!("{name} (cuda:{})", ctx.ordinal())
        }
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}
