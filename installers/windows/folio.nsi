; Folio installer for Windows (NSIS 3, Modern UI 2).
;
; Why per-user: Folio is a personal tool; installing into %LOCALAPPDATA%\Programs\Folio with
; RequestExecutionLevel user needs no administrator rights and no UAC prompt, and every
; registry write goes to HKCU. Uninstalling removes exactly what this script installed.
;
; USER DATA IS NEVER REMOVED. Folio keeps chats, settings, caches and logs under
; %LOCALAPPDATA%\Folio (platformdirs; %APPDATA%\Folio if a roaming profile is ever used) and
; downloaded models in the shared Hugging Face cache (%USERPROFILE%\.cache\huggingface).
; The uninstaller does not touch any of them, so reinstalling brings everything back; the
; uninstall page tells the user where they are in case they want to delete them by hand.
;
; Compile (installers\windows\build.ps1 does this; installers/windows/compile_check.sh runs
; it on Linux against a stand-in payload):
;   makensis /DPAYLOAD_DIR=dist\folio /DVERSION=0.1.0 /DICON=build\icons\folio.ico
;            /DOUTFILE=dist\Folio-0.1.0-setup.exe installers\windows\folio.nsi
; PAYLOAD_DIR is the PyInstaller onedir folder: folio.exe and _internal\ (with tessdata\).
; Optional: /DVERSION_QUAD=0.1.0.0 (numeric, for the exe's version resource; derived from
; VERSION when it is plain MAJOR.MINOR.PATCH).
;   /DTARGET=amd64-unicode builds a 64-bit installer instead of NSIS's default x86-unicode
;   one (only for running it under a 64-bit-only Wine; Windows' NSIS ships x86 stubs only).

!ifdef TARGET
  Target ${TARGET}
!endif
Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

; ---- compile-time parameters -------------------------------------------------------------
!ifndef PAYLOAD_DIR
  !error "Pass /DPAYLOAD_DIR=<PyInstaller onedir folder containing folio.exe and _internal>"
!endif
!ifndef VERSION
  !error "Pass /DVERSION=<version, e.g. 0.1.0>"
!endif
!ifndef ICON
  !error "Pass /DICON=<path to folio.ico (installers/common/make_icons.py writes it)>"
!endif
!ifndef OUTFILE
  !define OUTFILE "Folio-${VERSION}-setup.exe"
!endif
!if ! /FileExists "${PAYLOAD_DIR}\folio.exe"
  !error "${PAYLOAD_DIR}\folio.exe not found: is PAYLOAD_DIR the PyInstaller onedir output?"
!endif
!if ! /FileExists "${PAYLOAD_DIR}\_internal\*"
  !error "${PAYLOAD_DIR}\_internal\ not found or empty: is PAYLOAD_DIR a onedir build?"
!endif
; OCR: Tesseract's language data, which PyInstaller copies into _internal\tessdata (build.ps1
; fetches or copies it: installers/common/tessdata.py). Without it Folio cannot read scans.
!macro REQUIRE_TESSDATA NAME
  !if ! /FileExists "${PAYLOAD_DIR}\_internal\tessdata\${NAME}.traineddata"
    !error "${PAYLOAD_DIR}\_internal\tessdata\${NAME}.traineddata not found: the payload lacks the OCR language data (build.ps1 bundles it; set TESSDATA_SRC or let it download tessdata_fast)"
  !endif
!macroend
!insertmacro REQUIRE_TESSDATA eng
!insertmacro REQUIRE_TESSDATA fra
!insertmacro REQUIRE_TESSDATA deu
!insertmacro REQUIRE_TESSDATA spa
!insertmacro REQUIRE_TESSDATA ita
!insertmacro REQUIRE_TESSDATA nld
!insertmacro REQUIRE_TESSDATA osd
!ifndef VERSION_QUAD
  !searchparse /noerrors "${VERSION}" "" VERSION_MAJOR "." VERSION_MINOR "." VERSION_PATCH
  !ifndef VERSION_PATCH
    !error "VERSION '${VERSION}' is not MAJOR.MINOR.PATCH: pass /DVERSION_QUAD=a.b.c.d too"
  !endif
  !define VERSION_QUAD "${VERSION_MAJOR}.${VERSION_MINOR}.${VERSION_PATCH}.0"
!endif

!define APP_NAME "Folio"
!define APP_EXE "folio.exe"
!define PUBLISHER "Folio"
!define PROGID "Folio.Document"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Folio"
!define CLASSES "Software\Classes"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Folio"
; An upgrade goes where the previous version went.
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT License"

; ---- pages -------------------------------------------------------------------------------
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!define MUI_WELCOMEPAGE_TEXT "This will install ${APP_NAME} ${VERSION} for your user account \
  (no administrator rights needed).$\r$\n$\r$\nFolio answers questions about your documents \
  with a language model that runs on this computer, offline.$\r$\n$\r$\nClose Folio before \
  continuing if it is running."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"
!insertmacro MUI_PAGE_FINISH

!define MUI_UNCONFIRMPAGE_TEXT_TOP "${APP_NAME} will be removed from $INSTDIR.$\r$\n\
  Your chats, settings and downloaded models are kept (in %LOCALAPPDATA%\Folio and the \
  Hugging Face cache); delete those folders yourself if you no longer want them."
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; ---- install -----------------------------------------------------------------------------
Function .onInit
  ; The payload is an x64 build (x64 also runs emulated on Windows on ARM).
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP|MB_OK "${APP_NAME} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetShellVarContext current
  SetRegView 64
FunctionEnd

Section "${APP_NAME}" SecApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A previous version's libraries must not linger next to the new ones (only when this
  ; folder really holds a previous Folio: never delete another program's _internal).
  ${If} ${FileExists} "$INSTDIR\${APP_EXE}"
    RMDir /r "$INSTDIR\_internal"
  ${EndIf}
  File "${PAYLOAD_DIR}\${APP_EXE}"
  File /r "${PAYLOAD_DIR}\_internal"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  ; Add/Remove Programs (Settings > Apps), per user.
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Desktop shortcut" SecDesktop
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
SectionEnd

!macro OPEN_WITH_EXT EXT
  WriteRegStr HKCU "${CLASSES}\${EXT}\OpenWithProgids" "${PROGID}" ""
  WriteRegStr HKCU "${CLASSES}\Applications\${APP_EXE}\SupportedTypes" "${EXT}" ""
!macroend

; "Open with" only: Folio is offered for these types but never takes over the default app.
Section "$\"Open with Folio$\" for PDF, DOCX, TXT and MD files" SecOpenWith
  WriteRegStr HKCU "${CLASSES}\${PROGID}" "" "Document (${APP_NAME})"
  WriteRegStr HKCU "${CLASSES}\${PROGID}" "FriendlyTypeName" "Document (${APP_NAME})"
  WriteRegStr HKCU "${CLASSES}\${PROGID}\DefaultIcon" "" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${CLASSES}\${PROGID}\shell\open\command" "" '"$INSTDIR\${APP_EXE}" "%1"'
  WriteRegStr HKCU "${CLASSES}\Applications\${APP_EXE}" "FriendlyAppName" "${APP_NAME}"
  WriteRegStr HKCU "${CLASSES}\Applications\${APP_EXE}\shell\open\command" "" \
    '"$INSTDIR\${APP_EXE}" "%1"'
  !insertmacro OPEN_WITH_EXT ".pdf"
  !insertmacro OPEN_WITH_EXT ".docx"
  !insertmacro OPEN_WITH_EXT ".txt"
  !insertmacro OPEN_WITH_EXT ".md"
  ; SHChangeNotify(SHCNE_ASSOCCHANGED, SHCNF_IDLIST): Explorer re-reads the associations.
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)'
SectionEnd

; ---- uninstall ---------------------------------------------------------------------------
Function un.onInit
  SetShellVarContext current
  SetRegView 64
FunctionEnd

!macro UN_OPEN_WITH_EXT EXT
  ; Only Folio's own value: the key may hold other applications' entries.
  DeleteRegValue HKCU "${CLASSES}\${EXT}\OpenWithProgids" "${PROGID}"
!macroend

Section "Uninstall"
  ; Only what the installer put here, then the folder if (and only if) it is now empty:
  ; a folder the user chose may hold other files, and user data lives elsewhere (see top).
  Delete "$INSTDIR\${APP_EXE}"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"

  !insertmacro UN_OPEN_WITH_EXT ".pdf"
  !insertmacro UN_OPEN_WITH_EXT ".docx"
  !insertmacro UN_OPEN_WITH_EXT ".txt"
  !insertmacro UN_OPEN_WITH_EXT ".md"
  DeleteRegKey HKCU "${CLASSES}\${PROGID}"
  DeleteRegKey HKCU "${CLASSES}\Applications\${APP_EXE}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)'
SectionEnd
