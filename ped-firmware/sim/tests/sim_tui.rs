//! The done-when line "the TUI starts and draws": one frame of the terminal UI,
//! captured with ratatui's test backend.

use ped_firmware::hal::KeySerial;
use ped_firmware::io::Button;
use ped_firmware::screens;
use ped_proto::device::PedMode;
use ped_sim::display::View;
use ped_sim::tui::{KeyAction, draw, map_key};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect()
}

#[test]
fn the_tui_draws_the_lcd_the_keypad_and_the_status() {
    let screen = screens::select_mode("2.9.0-1");
    let view = View { seq: 0, screen: screen.clone(), mode: PedMode::SelectMode, host: true, key: Some(KeySerial(42)) };
    let mut terminal = Terminal::new(TestBackend::new(60, 20)).unwrap();
    terminal.draw(|frame| draw(frame, &view)).unwrap();
    let rows = rows(&terminal);
    let text = rows.join("\n");

    // Each LCD line sits inside the bezel, in order, one row each.
    let first = rows.iter().position(|r| r.contains(screen.lines()[0].as_str())).expect("the LCD's first line");
    for (i, line) in screen.text_lines().iter().enumerate() {
        assert!(rows[first + i].starts_with(&format!("│{line}")), "row {}: {:?}", first + i, rows[first + i]);
    }
    for key in ["[1]", "[5]", "[9]", "[0]", "[Enter]", "[Yes y]", "[No n]", "[Clear c]", "[< Bksp]", "[> log >]"] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    assert!(text.contains("SelectMode · host connected · key 0000000042"), "{text}");
}

#[test]
fn terminal_keys_press_the_keypad() {
    let key = |code| map_key(KeyEvent::new(code, KeyModifiers::NONE));
    assert_eq!(key(KeyCode::Char('7')), Some(KeyAction::Press(Button::Digit(7))));
    assert_eq!(key(KeyCode::Enter), Some(KeyAction::Press(Button::Enter)));
    assert_eq!(key(KeyCode::Backspace), Some(KeyAction::Press(Button::Back)));
    assert_eq!(key(KeyCode::Char('<')), Some(KeyAction::Press(Button::Back)));
    assert_eq!(key(KeyCode::Char('>')), Some(KeyAction::Press(Button::Log)));
    assert_eq!(key(KeyCode::Char('y')), Some(KeyAction::Press(Button::Yes)));
    assert_eq!(key(KeyCode::Char('n')), Some(KeyAction::Press(Button::No)));
    assert_eq!(key(KeyCode::Char('c')), Some(KeyAction::Press(Button::Clear)));
    assert_eq!(key(KeyCode::Char('C')), Some(KeyAction::ClearHeld));
    assert_eq!(key(KeyCode::Esc), Some(KeyAction::Quit));
    assert_eq!(map_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(KeyAction::Quit));
    assert_eq!(key(KeyCode::Char('x')), None);
}

fn drawn(width: u16, height: u16, view: &View) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, view)).unwrap();
    rows(&terminal).join("\n")
}

#[test]
fn a_terminal_too_short_for_the_keypad_keeps_every_lcd_line_and_says_the_keypad_is_hidden() {
    let screen = screens::select_mode("2.9.0-1");
    let view = View { seq: 0, screen: screen.clone(), mode: PedMode::SelectMode, host: false, key: None };
    assert_eq!(ped_sim::tui::ROWS, 17);
    for height in [11, 16] {
        let text = drawn(80, height, &view);
        for line in screen.text_lines() {
            assert!(text.contains(&format!("│{line}")), "{line:?} hidden at {height} rows:\n{text}");
        }
        assert!(text.contains(&format!("keypad hidden: the terminal needs 17 rows, has {height}")), "{text}");
        assert!(!text.contains("[Enter]"), "{text}");
    }
    assert!(!drawn(80, 17, &view).contains("keypad hidden"));
}

#[test]
fn a_terminal_too_small_for_the_lcd_says_so_instead_of_a_part_of_the_screen() {
    let screen = screens::select_mode("2.9.0-1");
    let view = View { seq: 0, screen: screen.clone(), mode: PedMode::SelectMode, host: false, key: None };
    for (width, height) in [(80, 10), (21, 24)] {
        let text = drawn(width, height, &view).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&format!("This terminal is {width} × {height}")), "{text}");
        assert!(text.contains("Enlarge the terminal; Esc quits."), "{text}");
        assert!(!text.contains(screen.text_lines()[0].trim()), "{text}");
    }
}
