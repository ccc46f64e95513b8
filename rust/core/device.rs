//! Where a tensor's storage lives: host memory, or the GPU adapter with the given index
//! in `ferrograd.gpu.adapters()` order. Callers match on `Device`; a build without the
//! `gpu` feature keeps the variant and simply never produces it.

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Device {
    #[default]
    Cpu,
    Gpu(u32),
}

impl Device {
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            Device::Gpu(i) => format!("gpu:{i}"),
        }
    }

    pub fn is_gpu(self) -> bool {
        matches!(self, Device::Gpu(_))
    }
}
