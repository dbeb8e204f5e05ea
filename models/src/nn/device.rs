//! Where models run: the one place a backend is chosen.
//!
//! `auto` takes a real GPU when the build has a GPU backend and the machine
//! has one (CUDA first, then wgpu: Vulkan, Metal or DX12), and otherwise the
//! CPU with a note saying why. Software renderers (lavapipe, llvmpipe) are
//! not GPUs for `auto`, but `wgpu` can be asked for explicitly to use them,
//! which is how the GPU path is tested on machines without one.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The backend a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A GPU when there is one, else the CPU.
    #[default]
    Auto,
    /// The CPU (ndarray).
    Cpu,
    /// wgpu (Vulkan, Metal, DX12), including software adapters.
    Wgpu,
    /// CUDA.
    Cuda,
}

impl BackendChoice {
    /// The name on the command line and in settings.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Wgpu => "wgpu",
            BackendChoice::Cuda => "cuda",
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendChoice {
    type Err = Error;

    fn from_str(name: &str) -> Result<BackendChoice> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "cpu" | "ndarray" => Ok(BackendChoice::Cpu),
            "wgpu" | "gpu" => Ok(BackendChoice::Wgpu),
            "cuda" => Ok(BackendChoice::Cuda),
            other => Err(Error::InvalidConfig {
                field: "backend",
                reason: format!("'{other}' is not one of auto, cpu, wgpu, cuda"),
            }),
        }
    }
}

/// A device to run models on, with what to tell the user about it.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// The Burn device (without autodiff; training adds it).
    pub device: Device,
    /// What it is, for people: "CPU (ndarray)", "GPU: NVIDIA … (wgpu)".
    pub label: String,
    /// Why `auto` did not pick a GPU, when it did not.
    pub note: Option<String>,
    /// The backend in use (never `Auto`).
    pub backend: BackendChoice,
}

impl ComputeDevice {
    /// The CPU backend.
    #[allow(deprecated)] // ndarray is the CPU backend Segue documents and tests
    pub fn cpu() -> ComputeDevice {
        ComputeDevice {
            device: Device::ndarray(),
            label: "CPU (ndarray)".to_owned(),
            note: None,
            backend: BackendChoice::Cpu,
        }
    }
}

/// Picks the device for `choice`. An explicit GPU backend that is not
/// compiled in, or finds no adapter, is an error; `auto` falls back.
pub fn select(choice: BackendChoice) -> Result<ComputeDevice> {
    match choice {
        BackendChoice::Cpu => Ok(ComputeDevice::cpu()),
        BackendChoice::Cuda => cuda().ok_or_else(|| unavailable("cuda", cuda_reason())),
        BackendChoice::Wgpu => wgpu(true).ok_or_else(|| unavailable("wgpu", wgpu_reason())),
        BackendChoice::Auto => {
            if let Some(device) = cuda() {
                return Ok(device);
            }
            if let Some(device) = wgpu(false) {
                return Ok(device);
            }
            let mut cpu = ComputeDevice::cpu();
            cpu.note = Some(format!(
                "no GPU found ({}; {}): using the CPU",
                cuda_reason(),
                wgpu_reason()
            ));
            Ok(cpu)
        }
    }
}

fn unavailable(backend: &'static str, reason: String) -> Error {
    Error::InvalidConfig {
        field: "backend",
        reason: format!("{backend} is not available: {reason}"),
    }
}

#[cfg(feature = "cuda")]
fn cuda() -> Option<ComputeDevice> {
    use burn::tensor::DeviceType;
    let device = Device::enumerate(DeviceType::Cuda).first().cloned()?;
    let name = device
        .identity()
        .map_or_else(|| "CUDA device 0".to_owned(), |i| i.name);
    Some(ComputeDevice {
        device,
        label: format!("GPU: {name} (CUDA)"),
        note: None,
        backend: BackendChoice::Cuda,
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Option<ComputeDevice> {
    None
}

fn cuda_reason() -> String {
    if cfg!(feature = "cuda") {
        "no CUDA driver or device".to_owned()
    } else {
        "this build has no CUDA support".to_owned()
    }
}

/// The first wgpu adapter that is a real GPU, or (with `allow_software`)
/// any adapter at all.
#[cfg(feature = "wgpu")]
fn wgpu(allow_software: bool) -> Option<ComputeDevice> {
    use burn::tensor::DeviceType;
    let devices = Device::enumerate(DeviceType::Wgpu);
    let mut fallback = None;
    for device in devices.iter() {
        let identity = device.identity();
        let name = identity
            .as_ref()
            .map_or_else(|| "wgpu adapter".to_owned(), |i| i.name.clone());
        let is_card = identity.as_ref().is_some_and(|i| i.physical.is_some());
        if is_card {
            return Some(ComputeDevice {
                device: device.clone(),
                label: format!("GPU: {name} (wgpu)"),
                note: None,
                backend: BackendChoice::Wgpu,
            });
        }
        if allow_software && fallback.is_none() {
            fallback = Some(ComputeDevice {
                device: device.clone(),
                label: format!("{name} (wgpu, software)"),
                note: None,
                backend: BackendChoice::Wgpu,
            });
        }
    }
    fallback
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_allow_software: bool) -> Option<ComputeDevice> {
    None
}

fn wgpu_reason() -> String {
    if cfg!(feature = "wgpu") {
        "no Vulkan, Metal or DX12 GPU adapter".to_owned()
    } else {
        "this build has no wgpu support".to_owned()
    }
}
