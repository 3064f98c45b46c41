//! The drawn PED: the 8 × 20 LCD, the keypad under it and a status line, in a
//! terminal. Keys: digits, Enter, Backspace or `<` (back), `>` (log), `y`/`n`,
//! `c` (Clear), `C` (Clear held 5 s); Esc or Ctrl-C quits.

use std::io;
use std::time::Duration;

use ped_firmware::io::Button;
use ped_firmware::screen::{COLUMNS, LINES};
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::command::{Command, Controller};
use crate::display::{Display, View};
use crate::driver::Action;

/// The keypad as drawn, row by row, each key with the terminal key that presses it.
const KEYPAD: [&str; 4] = [
    "[1]   [2]   [3]    [Clear c]  [Clear held C]",
    "[4]   [5]   [6]    [< Bksp]   [> log >]",
    "[7]   [8]   [9]    [Yes y]    [No n]",
    "      [0]          [Enter]",
];

/// What a terminal key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// Press a keypad key.
    Press(Button),
    /// Hold Clear for five seconds.
    ClearHeld,
    /// Leave the simulator.
    Quit,
}

/// The keypad key (or quit) for a terminal key.
pub fn map_key(key: KeyEvent) -> Option<KeyAction> {
    Some(match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => KeyAction::Quit,
        KeyCode::Esc => KeyAction::Quit,
        KeyCode::Char(d @ '0'..='9') => KeyAction::Press(Button::Digit(d as u8 - b'0')),
        KeyCode::Enter => KeyAction::Press(Button::Enter),
        KeyCode::Backspace | KeyCode::Char('<') => KeyAction::Press(Button::Back),
        KeyCode::Char('>') => KeyAction::Press(Button::Log),
        KeyCode::Char('y') => KeyAction::Press(Button::Yes),
        KeyCode::Char('n') => KeyAction::Press(Button::No),
        KeyCode::Char('c') => KeyAction::Press(Button::Clear),
        KeyCode::Char('C') => KeyAction::ClearHeld,
        _ => return None,
    })
}

/// The rows the drawn PED needs: the LCD in its bezel, the keypad in its box, the status.
pub const ROWS: u16 = LCD_ROWS + KEYPAD.len() as u16 + 2 + 1;
/// The rows of the LCD in its bezel.
const LCD_ROWS: u16 = LINES as u16 + 2;
/// The columns of the LCD in its bezel.
const LCD_COLUMNS: u16 = COLUMNS as u16 + 2;

/// Draws one frame: the LCD in its bezel, the keypad, the status line. A terminal too
/// short for the keypad keeps the LCD and says the keypad is hidden; one too small for the
/// LCD itself says so rather than show part of a screen.
pub fn draw(frame: &mut Frame<'_>, view: &View) {
    let area = frame.area();
    if area.height < LCD_ROWS + 1 || area.width < LCD_COLUMNS {
        let notice = format!(
            "This terminal is {} × {}: the PED's display needs {LCD_COLUMNS} × {} and the keypad \
{ROWS} rows. Enlarge the terminal; Esc quits.",
            area.width,
            area.height,
            LCD_ROWS + 1
        );
        frame.render_widget(Paragraph::new(notice).wrap(Wrap { trim: true }), area);
        return;
    }
    let keypad_rows = if area.height >= ROWS { KEYPAD.len() as u16 + 2 } else { 0 };
    let [lcd, keypad, status] =
        Layout::vertical([Constraint::Length(LCD_ROWS), Constraint::Length(keypad_rows), Constraint::Length(1)])
            .areas(area);
    let lcd = Rect { width: LCD_COLUMNS, ..lcd };
    let lines: Vec<Line<'_>> = view.screen.lines().iter().map(|l| Line::raw(l.as_str())).collect();
    frame.render_widget(
        Paragraph::new(lines)
            .style(Style::new().fg(Color::Black).bg(Color::Green))
            .block(Block::bordered().title("PED")),
        lcd,
    );
    let key = view.key.map_or_else(|| "no key".to_owned(), |k| format!("key {k}"));
    let host = if view.host { "host connected" } else { "no host" };
    let mut line = format!("{:?} · {host} · {key} · Esc quits", view.mode);
    if keypad_rows == 0 {
        line = format!("keypad hidden: the terminal needs {ROWS} rows, has {} · {line}", area.height);
    } else {
        let keys: Vec<Line<'_>> = KEYPAD.iter().map(|row| Line::raw(*row)).collect();
        frame.render_widget(Paragraph::new(keys).block(Block::bordered().title("Keypad")), keypad);
    }
    frame.render_widget(Line::raw(line), status);
}

/// Runs the UI until Esc or Ctrl-C.
pub fn run(controller: &Controller, display: &Display) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = ui_loop(&mut terminal, controller, display);
    ratatui::try_restore()?;
    result
}

fn ui_loop(terminal: &mut ratatui::DefaultTerminal, controller: &Controller, display: &Display) -> io::Result<()> {
    loop {
        let view = display.view();
        terminal.draw(|frame| draw(frame, &view))?;
        // Redraw at least this often: the screen also changes by the host and the clock.
        if !event::poll(Duration::from_millis(50))? {
            continue;
        }
        let Event::Key(key) = event::read()? else { continue };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let action = match map_key(key) {
            None => continue,
            Some(KeyAction::Quit) => return Ok(()),
            Some(KeyAction::Press(button)) => Action::Press(vec![button]),
            Some(KeyAction::ClearHeld) => Action::ClearHeld,
        };
        controller.run(Command::Act(action)).map_err(io::Error::other)?;
    }
}
